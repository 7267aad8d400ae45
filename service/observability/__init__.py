"""What running the service in production needs: request context, metrics, tracing, draining."""
