"""Adapters of ProximaDB to frameworks (each needs its framework installed: see its module)."""
