"""The domain: models, services, policy, crypto and storage. Knows nothing of the web."""
