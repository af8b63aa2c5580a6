"""The serving machinery: background jobs shared per server, the result store on disk, shared builds and the
allocator settings of a long-running server. It runs experiments; nothing below it knows it exists.

Public surface: `jobs` (JobRegistry, JobStatus), `store` (ResultStore).
"""
