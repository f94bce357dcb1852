"""The gateway's routes, one module per area. Their paths use the id convertors registered here."""

from beatflow_gateway.paths import register_id_convertors

register_id_convertors()
