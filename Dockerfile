# The tierstream worker image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY scorers scorers
COPY streams streams
# tierstream/ holds the public API and links to the three folders above: one import package.
COPY tierstream tierstream
RUN pip install --no-cache-dir '.[rocksdb]'
ENV TIERSTREAM_WEB_HOST=0.0.0.0
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if b'\"ready\":true' in urllib.request.urlopen('http://127.0.0.1:6066/health').read() else 1)"
ENTRYPOINT ["tierstream"]
CMD ["worker"]
