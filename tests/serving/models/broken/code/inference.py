def model_fn(model_dir):
    raise RuntimeError("weights file is corrupt")
