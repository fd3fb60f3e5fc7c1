"""Portfolio constructors: one file each, registered in ``CONSTRUCTORS`` on import."""
