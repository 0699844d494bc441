"""pix2pix (TensorFlow): rebuild a face photo from its sketch.

``python -m trainers.pix2pix PAIRS_DIR`` trains; ``python -m trainers.pix2pix.predict`` uses a run.
Never imports torch.
"""
