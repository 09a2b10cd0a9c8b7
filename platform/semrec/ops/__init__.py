"""Running semrec in production: probes, Prometheus metrics, request logs and start-up steps."""
