"""Data sets and domain curation (paper Section 6 and Appendix D).

Everything here is about images and labels; nothing imports a model. A spec asking for a
synthetic challenge (``?challenge=snow&level=3``) calls the installed synthesizer
(:func:`set_challenge_synthesizer`), which ``import nuisance_zoo`` sets to
:func:`nuisance_zoo.known.synthesize_challenge`.

- :class:`ImageDataset`: uint8 images (N, C, H, W) + int64 labels, a torch ``Dataset``.
- :func:`load_dataset`: one spec string → a data set and a domain of it, e.g.
  ``load_dataset("gtsrb:train?classes=largest10&brightness=<40")`` (grammar in
  :mod:`nuisance_zoo.data.spec`).
- Curation: :func:`brightness`, :func:`contrast`, :func:`curate`, :data:`PRESETS` (Table 11);
  :func:`select_classes`, :func:`select_labels`, :data:`GTSRB_LARGEST10`; :func:`colorize`.
- Sources: :func:`load_npz`, :func:`load_image_folder`, :func:`load_cure_tsr`,
  :func:`load_torchvision`, :func:`sample_mnist` (bundled), and the named sets
  (:func:`load_named_set`: ``gtsrb``, ``mnist``, ``fashion-mnist``, ``kmnist``, ``emnist``,
  ``qmnist``, ``usps``, ``svhn`` from the data root, else the dataset cache, else torchvision
  with ``download=True``, converted once to ``.npz`` in :func:`dataset_cache_dir`).

Example:
    >>> from nuisance_zoo.data import load_dataset
    >>> ds = load_dataset("mnist-sample:train?colorize=blue0-4-red5-9")
    >>> len(ds), tuple(ds.x.shape[1:])
    (6000, (3, 28, 28))
"""
from .classes import (
    GTSRB_CLASSES_BY_SIZE,
    GTSRB_LARGEST10,
    largest_classes,
    parse_label_list,
    select_classes,
    select_labels,
)
from .colorize import COLOURS, background_mask, colorize, colorize_images
from .cure_tsr import CURE_TSR_CHALLENGES, CURE_TSR_SIGNS, load_cure_tsr, parse_cure_tsr_name
from .curation import PRESETS, Range, brightness, contrast, curate, parse_range, preset
from .dataset import ImageDataset, concat_datasets
from .folder import load_image_folder
from .named import NAMED_SETS, load_named_set
from .npz import load_npz
from .paths import CACHE_ENV, DATA_ENV, dataset_cache_dir, named_set_roots, resolve_root
from .sample import MNIST_SAMPLE_PATH, sample_mnist
from .spec import OPTION_KEYS, SPEC_FORMS, DatasetSpec, load_dataset, parse_spec, set_challenge_synthesizer, synthesize, with_download
from .transforms import resize, to_channels
from .tv import TORCHVISION_SETS, load_torchvision

__all__ = [
    "ImageDataset", "concat_datasets", "load_dataset", "parse_spec", "DatasetSpec", "SPEC_FORMS",
    "OPTION_KEYS", "brightness", "contrast", "curate", "Range", "parse_range", "PRESETS", "preset",
    "select_classes", "select_labels", "largest_classes", "parse_label_list", "GTSRB_LARGEST10",
    "GTSRB_CLASSES_BY_SIZE", "colorize", "colorize_images", "background_mask", "COLOURS",
    "load_npz", "load_image_folder", "load_cure_tsr", "parse_cure_tsr_name", "CURE_TSR_CHALLENGES",
    "CURE_TSR_SIGNS", "load_torchvision", "TORCHVISION_SETS", "sample_mnist", "MNIST_SAMPLE_PATH",
    "resize", "to_channels", "synthesize", "set_challenge_synthesizer", "resolve_root", "DATA_ENV", "CACHE_ENV", "dataset_cache_dir",
    "named_set_roots", "load_named_set", "NAMED_SETS", "with_download",
]
