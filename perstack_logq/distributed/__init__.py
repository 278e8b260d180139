"""Work spread over other machines: sharded exports as tasks on a Dask cluster."""
