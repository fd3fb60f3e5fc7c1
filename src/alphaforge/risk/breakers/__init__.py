"""Circuit breakers and drawdown tiers: one file each, registered in ``BREAKERS`` on import."""
