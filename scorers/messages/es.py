"""Spanish templates, in the words of the source article (cliente, proveedor, pedido, retraso)."""

from __future__ import annotations

__all__ = ["TEMPLATES"]

_PAYMENTS = "ningún pago ni factura vencida en la ventana de {window} días"
_DELIVERY = "ninguna entrega en la ventana de {window} días"

TEMPLATES: dict[str, str] = {
    "change.ungraded": "sin clasificar: {why}",
    "change.override": "ajuste manual de {author}: {reason} (hasta el {until})",
    "change.prospect": "evaluación de perspectivas de {author}: {reason} "
                       "(recién llegado clasificado por la puntuación de perspectivas {score:g}, {tier})",
    "change.first_grading": "primera clasificación: la puntuación {score:.1f} lo sitúa en {tier}",
    "change.enough_evidence": "datos suficientes para clasificar: la puntuación {score:.1f} lo sitúa en {tier}",
    "change.reached": "la puntuación {score:num} alcanzó {tier} (mínimo {minimum:g})",
    "change.fell_below": "la puntuación {score:.1f} quedó por debajo de lo que exige {tier}",
    "change.fell_below_minimum": "la puntuación {score:num} quedó por debajo de lo que exige {tier} "
                                 "(mínimo {minimum:g})",
    "change.override_ended": "el ajuste manual de {author} terminó el {date}: {then}",
    "change.prospect_ended": "la evaluación de perspectivas de {author} terminó el {date}: {then}",
    "change.prospect_orders": "la evaluación de perspectivas de {author} ya no se aplica: "
                              "más de {most} pedido{most:plural::s}: {then}",
    "change.prospect_deliveries": "la evaluación de perspectivas de {author} ya no se aplica: "
                                  "más de {most} entrega{most:plural::s} en la ventana: {then}",
    "change.re_review": "revisión periódica: {then}",
    "change.rules": "reglas {version}: {then}",
    "dimension.up": "{label} subió de {before:num} a {after:num} ({metric} {value}): {points:num} puntos",
    "dimension.down": "{label} bajó de {before:num} a {after:num} ({metric} {value}): {points:num} puntos",
    "dimension.now_scored": "{label} ahora puntúa {score:.0f} ({metric} {value}): {points:num} puntos",
    "dimension.no_longer_scored": "{label} ya no puntúa (sin {metric} en la ventana): {points:num} puntos",
    "dimension.assessed_up": "{label} subió de {before:num} a {after:num} ({said}): {points:num} puntos",
    "dimension.assessed_down": "{label} bajó de {before:num} a {after:num} ({said}): {points:num} puntos",
    "dimension.assessed_now": "{label} ahora puntúa {score:.0f} ({said}): {points:num} puntos",
    "dimension.assessed_left_out": "{label}: {said}, queda fuera: {points:num} puntos",
    "assessed.by": "evaluado en {score:g} por {author}",
    "assessed.mean": "evaluado en {score:g}, media de {evaluators} evaluadores",
    "assessed.expired": "evaluación vencida el {date}",
    "assessed.none": "ninguna evaluación vigente",
    "assessed.said": "{text}",
    "held.min_days": "se mantiene en {tier}: lo alcanzó hace {age} días, el tiempo mínimo en el nivel "
                     "es de {min_days} días",
    "held.margin": "se mantiene en {tier}: la puntuación {score:.1f} está dentro del margen de {margin:g} "
                   "puntos por debajo de {minimum:g}",
    "held.grace": "se mantiene en {tier}: puntuación por debajo de {line:g} durante {days} días, "
                  "el periodo de gracia es de {grace} días",
    "credit.unpaid": "factura {invoice} impagada, vencida hace {days} días ({owed:,.2f} pendiente)",
    "credit.paid_late": "factura {invoice} pagada con {days} días de retraso: {reason}",
    "evidence.all": "{why:join:; }",
    "evidence.no_assessment": "ninguna evaluación de {label} vigente",
    "evidence.none": "aún no hay datos en ninguna dimensión",
    "evidence.some": "datos en {n} de las {count} dimensiones requeridas",
    "absent.none_yet": "aún sin {metric}",
    "absent.recency_days": "aún no hay pedidos",
    "absent.gross_profit": "ningún pedido con coste en la ventana de {window} días",
    "absent.on_time_payment_ratio": _PAYMENTS,
    "absent.weighted_days_late": _PAYMENTS,
    "absent.overdue_amount": _PAYMENTS,
    "absent.longest_overdue_days": _PAYMENTS,
    "absent.purchase_interval_cv": "menos de 3 días de compra en la ventana de {window} días",
    "absent.share_of_wallet": "el perfil del cliente no indica su cuota de compras",
    "absent.quality_pass_rate": "ninguna mercancía entregada en la ventana de {window} días",
    "absent.on_time_rate": _DELIVERY,
    "absent.fill_rate": _DELIVERY,
    "absent.delivery_accuracy": _DELIVERY,
    "absent.price_index": "ninguna compra con precio de mercado en la ventana de {window} días",
    "absent.avg_first_response_hours": "ningún ticket de servicio en la ventana de {window} días",
    "value.plain": "{value:num}",
    "value.days": "{value:num} días",
    "value.hours": "{value:num} h",
    "value.none": "sin datos",
    "hint.any": "{options:join: o }",
    "hint.recency_days": "un pedido hoy",
    "hint.order_count": "{n} pedido{n:plural::s} más en la ventana",
    "hint.revenue": "{amount:num} más de ingresos en la ventana",
    "hint.gross_profit": "{amount:num} más de beneficio bruto en la ventana",
    "hint.on_time_payment_ratio": "una tasa de pagos puntuales de {target}",
    "hint.weighted_days_late": "pagos con {target} de retraso medio o menos",
    "hint.overdue_amount": "facturas vencidas pagadas hasta dejar {target}",
    "hint.qualified_referrals": "{n} cliente{n:plural::s} referido{n:plural::s} más que compre{n:plural::n}",
    "hint.quality_pass_rate": "una tasa de calidad aceptada de {target}",
    "hint.on_time_rate": "una tasa de entregas puntuales de {target}",
    "hint.fill_rate": "una tasa de cumplimiento de {target}",
    "hint.delivery_accuracy": "una exactitud de entrega de {target}",
    "hint.price_index": "precios al {target} del mercado o menos",
    "hint.avg_first_response_hours": "primeras respuestas en {target} de media o menos",
    "hint.more_orders": "{n} pedido{n:plural::s} más de su importe medio ({average:,.2f}) en la ventana",
    "hint.more_deliveries": "{n} entrega{n:plural::s} más de su tamaño medio, a tiempo, completa{n:plural::s} "
                            "y aceptada{n:plural::s} por entero",
    "metric.recency_days": "días desde el último pedido",
    "metric.order_count": "número de pedidos",
    "metric.revenue": "importe de pedidos",
    "metric.gross_profit": "beneficio bruto",
    "metric.on_time_payment_ratio": "tasa de pagos puntuales",
    "metric.late_payments": "pagos con retraso",
    "metric.avg_days_late": "días de retraso medios",
    "metric.weighted_days_late": "días de retraso ponderados",
    "metric.overdue_amount": "importe vencido",
    "metric.longest_overdue_days": "días del mayor retraso",
    "metric.qualified_referrals": "clientes referidos que compraron",
    "metric.purchase_interval_cv": "coeficiente de variación entre compras",
    "metric.share_of_wallet": "cuota de compras",
    "metric.quality_pass_rate": "tasa de calidad aceptada",
    "metric.on_time_rate": "tasa de entregas puntuales",
    "metric.fill_rate": "tasa de cumplimiento",
    "metric.delivery_accuracy": "exactitud de entrega",
    "metric.price_index": "índice de precios",
    "metric.avg_first_response_hours": "horas medias hasta la primera respuesta",
    "metric.deliveries": "entregas",
    "metric.purchase_count": "órdenes de compra",
    "notice.at_risk": "{tier} se mantiene por histéresis: la puntuación {score:g} está por debajo de su mínimo "
                      "{minimum:g}; pasa a {target} el {date} salvo que la puntuación alcance {minimum:g}",
    "notice.supplier_watch": "proveedor {supplier}: la puntuación {score:g} salió de {tier} (mínimo {minimum:g}) "
                             "hacia {target}; la bajada se aplica el {date} si nada cambia",
    "notice.approaching": "la puntuación {score:g} está a {gap:g} puntos de {target} (mínimo {minimum:g})",
    "notice.override_expiring": "el ajuste manual a {tier} de {author} vence el {date}; {then}",
    "notice.without_override_ungraded": "sin él queda sin clasificar: {why}",
    "notice.without_override_tier": "la puntuación {score:g} por sí sola lo sitúa en {tier}",
    "notice.prospect_expiring": "la evaluación de perspectivas de {author} ({score:g}) vence el {date}; "
                                "el recién llegado se clasifica entonces por sus propias cifras",
    "review.override_expiring": "ajuste manual a {tier} de {author} vence el {date} (en {days:.1f} días): "
                                "{reason} [{event}]",
    "review.prospect_expiring": "evaluación de perspectivas {score:g} de {author} vence el {date} "
                                "(en {days:.1f} días): {reason} [{event}]",
    "review.held": "se mantiene en {tier} por histéresis: la puntuación {score:g} está {gap:g} puntos por debajo "
                   "de su mínimo {minimum:g}",
    "review.held_keep": "{held}; para mantenerlo: {hints:join: o }",
    "review.case_in_days": "caso de rectificación {case} abierto el {opened}: se reevalúa en su plazo {deadline} "
                           "(en {days:.1f} días); puntuación {score:g} en {tier}",
    "review.case_overdue": "caso de rectificación {case} abierto el {opened}: se reevalúa en su plazo {deadline} "
                           "(vencido hace {days:.1f} días); puntuación {score:g} en {tier}",
    "review.watch": "en observación: su puntuación salió de {tier} hacia {target}; puntuación {score:g}",
    "review.watch_held": "en observación: su puntuación salió de {tier} hacia {target}; puntuación {score:g} "
                         "por debajo del mínimo {minimum:g} de {tier}",
    "review.watch_lapse": "{watch}; la bajada se aplica el {date} si nada cambia",
}
