"""Weights that ship inside the package: the default deblurring model and frame selector, and
the papers' systems trained so far.

The deblurring model was trained by this toolkit on realistic pairs made on the fly from real
photographs and real 1000 fps video (``configs/realistic/deblur.yaml``), the frame selector on
clips it synthesizes (``configs/default/frame_selector.yaml``); the model card of both is
``docs/default-model.md``. The papers' systems (``s1``: S1's network, today the default's
file; ``s2`` to ``s5``: their CPU variants, ``configs/realistic/sN.yaml``) and
``nafnet_fast`` (NAFNet's blocks within the default's budgets,
``configs/realistic/nafnet_fast_long.yaml``) have theirs in ``docs/system-models.md``. What a
weight file *is* (task, value range, colour order, padding multiple, training data, recipe)
is described by a :class:`WeightCard`, kept apart from the architecture, which the
safetensors header names (``deblurkit_name`` / ``deblurkit_kwargs``, see
:func:`deblurkit.models.weights.save_model`).

``--model default`` (the default of ``restore``, ``video`` and ``eval``) and
``--classifier default`` resolve here; nothing is downloaded.

Example:
    >>> from deblurkit.pretrained import bundled_card, load_bundled
    >>> bundled_card("default").task
    'deblur'
    >>> model = load_bundled("default")      # an nn.Module, eval mode, on the CPU
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from torch import nn

from deblurkit.errors import UserError
from deblurkit.models.guard import GuardSettings

#: Model card of the default files.
MODEL_CARD = "docs/default-model.md"


@dataclass(frozen=True)
class WeightCard:
    """What a bundled weight file holds and how its inputs must look.

    Args:
        name: the name users pass (``--model default``).
        file: file name inside this package.
        task: ``"deblur"`` (a generator) or ``"frame_selection"`` (a classifier).
        value_range: range of the tensors the *caller* passes (the network converts to its
            own range inside).
        colour_order: channel order of the inputs.
        pad_multiple: the input size must be a multiple of this (the backends pad).
        training_data: what it was trained on.
        recipe: the training config that made it (relative to the repository root).
        seed: the seed of that run.
        model_card: the document that describes it (relative to the repository root).
        guard: the output guard fitted for this file (:mod:`deblurkit.models.guard`), attached
            by :func:`load_bundled`; None: the network's output as it is.
    """

    name: str
    file: str
    task: str
    value_range: tuple[float, float]
    colour_order: str
    pad_multiple: int
    training_data: str
    recipe: str
    seed: int
    model_card: str = MODEL_CARD
    guard: GuardSettings | None = None

    @property
    def path(self) -> Path:
        """Where the file is in the installed package."""
        return Path(str(resources.files(__name__).joinpath(self.file)))


#: What the realistic recipes read (``../shared/data``, train split only; never its val split).
REAL_TRAINING_DATA = (
    "realistic pairs made on the fly (deblurkit.synth.degrade: camera response, exposure, "
    "saturation, uniform and non-uniform camera shake, averaging of real 1000 fps frames, "
    "Poisson-Gaussian noise, JPEG / H.264) from the train split of ../shared/data: BSDS500 "
    "train (non-commercial research use), Urban100 images 1-80 (research benchmark, Flickr CC "
    "images), 46 CQ100 photographs (CC BY-SA / CC BY / CC0 / public domain, attribution in "
    "ATTRIBUTION_cq100.csv), 3 Unsplash photographs (Unsplash License) and 12 X4K1000FPS "
    "scenes (research use, XVFI authors); not GoPro")

#: The model card of the papers' systems and the peer's candidate.
SYSTEM_MODEL_CARD = "docs/system-models.md"


def _realistic_deblur(name: str, file: str, pad_multiple: int, recipe: str, seed: int = 0,
                      model_card: str = SYSTEM_MODEL_CARD,
                      guard: GuardSettings | None = None) -> WeightCard:
    """The card of a deblurring model trained by a ``configs/realistic`` recipe (RGB in
    ``[0, 1]``, :data:`REAL_TRAINING_DATA`)."""
    return WeightCard(name=name, file=file, task="deblur", value_range=(0.0, 1.0),
                      colour_order="RGB", pad_multiple=pad_multiple,
                      training_data=REAL_TRAINING_DATA,
                      recipe=f"configs/realistic/{recipe}.yaml", seed=seed,
                      model_card=model_card, guard=guard)


#: Every bundled weight file, by name.
BUNDLED: dict[str, WeightCard] = {
    # since 2026-12-07: a blend of s1's file and a run from it with more unblurred samples
    # (the header's ``interpolation`` entry), behind the low-pass guard fitted on data/realtune
    # (benchmarks/lowpass_guard.py; docs/default-model.md, "Do no harm")
    "default": _realistic_deblur("default", "default_deblur.safetensors", 16, "deblur_sharp30",
                                 seed=4, model_card=MODEL_CARD,
                                 guard=GuardSettings(sigma=6.0, strength=0.75)),
    "default_selector": WeightCard(
        name="default_selector", file="default_selector.safetensors",
        task="frame_selection", value_range=(0.0, 1.0), colour_order="RGB", pad_multiple=1,
        training_data="deblurkit synth: 120 partially blurred clips (S4 protocol) of procedural "
                      "scenes and 14 scikit-image photographs (never astronaut or "
                      "hubble_deep_field)",
        recipe="configs/default/frame_selector.yaml", seed=0),
    # S1's CPU network is the default's: S1's shipped model is the long run's step 4500, the
    # default's file until 2026-12-07 (S1's own MSE loss measured worse; the card says so)
    "s1": _realistic_deblur("s1", "s1_msed_fast.safetensors", 16, "deblur"),
    "s2": _realistic_deblur("s2", "s2_msrn.safetensors", 16, "s2"),
    # two cycles of its recipe: seed 0, then seed 1 from the first cycle's file (its card)
    "s3": _realistic_deblur("s3", "s3_msdn.safetensors", 64, "s3", seed=1),
    "s4": _realistic_deblur("s4", "s4_deblurnet.safetensors", 8, "s4"),
    "s5": _realistic_deblur("s5", "s5_fpn.safetensors", 32, "s5"),
    "nafnet_fast": _realistic_deblur("nafnet_fast", "nafnet_fast.safetensors", 32,
                                     "nafnet_fast_long", seed=1),
}


def bundled_card(name: str) -> WeightCard:
    """The :class:`WeightCard` of a bundled file by name (``"default"``, ``"s3"``, ...).

    Raises:
        UserError: no such bundled file.
    """
    try:
        return BUNDLED[name]
    except KeyError:
        raise UserError(f"no bundled weights named {name!r}; bundled: "
                        f"{', '.join(BUNDLED)}") from None


def load_bundled(name: str) -> nn.Module:
    """Build and load a bundled model (eval mode, CPU), with its card's guard attached.

    Raises:
        UserError: unknown name, or the file is missing from this installation.
    """
    from deblurkit.models.weights import load_model

    card = bundled_card(name)
    if not card.path.is_file():
        raise UserError(f"{card.path}: bundled weights missing from this installation "
                        "(reinstall deblurkit)")
    model = load_model(card.path)
    if card.guard is not None:
        from deblurkit.models.guard import attach_guard

        attach_guard(model, card.guard)
    return model.eval()


#: The fitted logistic model of ``deblurkit video --select temporal`` (not a network: see
#: :class:`deblurkit.inference.selection.TemporalModel`, whose ``load_temporal_selector``
#: reads it), made by ``tools/fit_temporal_selector.py`` from
#: ``configs/data/selector_train.yaml``'s clips.
TEMPORAL_SELECTOR_FILE = "default_temporal_selector.safetensors"


def temporal_selector_path() -> Path:
    """Where the bundled temporal frame selector's file is.

    Raises:
        UserError: the file is missing from this installation.

    Example:
        >>> temporal_selector_path().name
        'default_temporal_selector.safetensors'
    """
    path = Path(str(resources.files(__name__).joinpath(TEMPORAL_SELECTOR_FILE)))
    if not path.is_file():
        raise UserError(f"{path}: bundled temporal frame selector missing from this "
                        "installation (reinstall deblurkit)")
    return path


__all__ = ["BUNDLED", "MODEL_CARD", "REAL_TRAINING_DATA", "TEMPORAL_SELECTOR_FILE", "WeightCard",
           "bundled_card", "load_bundled", "temporal_selector_path"]
