"""Facts about the MNIST dataset: file names, image shape, classes and the seed's normalization."""

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
RAW_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# Normalize((0.1307,), (0.3081,)) from the seed: mean and std of the training pixels in [0, 1].
MEAN = 0.1307
STD = 0.3081
