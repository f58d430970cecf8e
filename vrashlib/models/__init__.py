"""Section 3: LM, VAE and VRASH on recurrent highway networks (notebook 02).

The three architectures are one network with two switches; this is the one place
that lists them (importing it does not import torch).
"""

# kind -> (latent code z, history of previous notes): the two switches.
KINDS: dict[str, tuple[bool, bool]] = {
    "lm": (False, True),
    "vae": (True, False),
    "vrash": (True, True),
}
