"""The generator service: text-to-music and hum-to-beat as durable jobs."""
