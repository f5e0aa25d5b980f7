"""Kafka adapters over aiokafka: the consumer-group event source and the dead-letter topic."""
