"""tierstream: real-time grading of customers and suppliers into tiers."""
