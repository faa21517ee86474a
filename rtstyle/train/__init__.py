"""Training: the perceptual loss network and losses, the photo data set, and the training loop."""
