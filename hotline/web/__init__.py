"""The aiohttp application: middlewares, route mounting, health, metrics and OpenAPI."""
