"""gateway: authentication, jurisdiction-scoped authorization, partner clients, the HTTP API
and the web pages, mapped onto nameko RPC over RabbitMQ."""
