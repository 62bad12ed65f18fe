"""Where runs live: a folder of run folders, or the same layout behind an fsspec URL.

``local`` is the store and the record file format, ``remote`` the fsspec one (``Store(url)``
returns it), ``index`` the derived listing index, ``check`` the integrity check, ``packing`` one
run as one file, ``artifacts`` the saved models, ``cache`` the evaluation cache.
"""

from . import remote as _remote  # noqa: F401  - registers the URL store with Store
from .local import (
    RECORD_FILE,
    SCHEMA_VERSION,
    CorruptRecord,
    RunNotFound,
    Store,
    default_store_path,
    is_remote_url,
    read_jsonl,
    write_json,
    write_jsonl,
)

__all__ = ["RECORD_FILE", "SCHEMA_VERSION", "CorruptRecord", "RunNotFound", "Store", "default_store_path",
           "is_remote_url", "read_jsonl", "write_json", "write_jsonl"]
