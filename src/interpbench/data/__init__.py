"""Dataset builders and readers: MNIST idx files, synthetic colour scenes, image folders, CIFAR-10."""

from .cifar import CIFAR10_CLASSES, load_cifar10, read_cifar_batch
from .idx import read_idx, write_idx
from .imagefolder import IMAGE_EXTENSIONS, list_image_folder, load_image_folder
from .mnist import MnistData, load_mnist, split_train_test, subsample, to_float_images
from .scenes import BACKGROUNDS, COLORS, PALETTE, SHAPES, TEXTURES, generate_scenes, main_shape_mask, shape_mask

__all__ = [
    "BACKGROUNDS",
    "CIFAR10_CLASSES",
    "COLORS",
    "IMAGE_EXTENSIONS",
    "PALETTE",
    "SHAPES",
    "TEXTURES",
    "MnistData",
    "generate_scenes",
    "main_shape_mask",
    "list_image_folder",
    "load_cifar10",
    "load_image_folder",
    "load_mnist",
    "read_cifar_batch",
    "read_idx",
    "shape_mask",
    "split_train_test",
    "subsample",
    "to_float_images",
    "write_idx",
]
