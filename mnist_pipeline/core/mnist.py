"""Facts about the MNIST dataset: file names, image shape, classes and the original project's normalization."""

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
RAW_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# Normalize((0.1307,), (0.3081,)) from the original project: mean and std of the training pixels in [0, 1].
MEAN = 0.1307
STD = 0.3081

# Training images per class in the canonical files (the digests in params.yaml): what `check` knows
# of the data before it is downloaded. Where data/raw holds the files, it counts them instead.
TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TRAIN_LABELS_SHA256 = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
