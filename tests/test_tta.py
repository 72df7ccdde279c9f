"""Test-time augmentation (inference.tta, Restorer(tta=...), --tta on the commands)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurkit.inference.tta import TTA_MODES, dihedral, dihedral_inverse, self_ensemble
from deblurkit.models import create_model


def test_the_eight_views_are_distinct_and_each_is_undone_exactly():
    x = torch.rand(2, 3, 5, 7)
    views = [dihedral(x, r, f) for f in (False, True) for r in range(4)]
    assert len({v.flatten().numpy().tobytes() + bytes(v.shape) for v in views}) == 8
    for f in (False, True):
        for r in range(4):
            assert torch.equal(dihedral_inverse(dihedral(x, r, f), r, f), x)
    # rot 1 turns a row vector into a column (counter-clockwise, torch.rot90 convention)
    assert dihedral(torch.arange(3.0).view(1, 3), 1, False).flatten().tolist() == [2, 1, 0]


def test_self_ensemble_is_the_mean_of_the_turned_back_views():
    x = torch.rand(1, 1, 6, 6)

    def shift(t):  # not rotation-equivariant: moves content one pixel right
        return torch.roll(t, 1, dims=-1)

    views = [(r, f) for f in (False, True) for r in range(4)]
    by_hand = sum(dihedral_inverse(shift(dihedral(x, r, f)), r, f) for r, f in views) / 8
    torch.testing.assert_close(self_ensemble(shift, x, 8), by_hand)
    # an equivariant function is unchanged by the ensemble; 1 view is the plain call
    torch.testing.assert_close(self_ensemble(lambda t: t * 3, x, 8), x * 3)
    assert torch.equal(self_ensemble(shift, x, 1), shift(x))
    with pytest.raises(ValueError, match="tta"):
        self_ensemble(shift, x, 3)
    assert TTA_MODES == (1, 2, 4, 8)


@pytest.mark.parametrize("tile", [None, 32])
def test_restorer_tta_equals_the_hand_made_ensemble(tile):
    from deblurkit.inference.restorer import Restorer

    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1).eval()
    plain = Restorer(net, device="cpu", tile=tile, overlap=4)
    ensemble = Restorer(net, device="cpu", tile=tile, overlap=4, tta=8)
    x = torch.rand(1, 3, 44, 60)
    by_hand = sum(dihedral_inverse(plain.restore_tensor(dihedral(x, r, f)), r, f)
                  for f in (False, True) for r in range(4)) / 8
    torch.testing.assert_close(ensemble.restore_tensor(x), by_hand)
    assert not torch.allclose(ensemble.restore_tensor(x), plain.restore_tensor(x))
    with pytest.raises(ValueError, match="tta"):
        Restorer(net, tta=5)


def test_restore_command_tta_matches_the_restorer(tmp_path):
    from deblurkit.cli import main
    from deblurkit.inference.restorer import Restorer
    from deblurkit.io import read_image, write_image
    from deblurkit.models.weights import save_model

    torch.manual_seed(1)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    model = save_model(net, tmp_path / "tiny.safetensors")
    rng = np.random.default_rng(0)
    write_image(tmp_path / "in.png", rng.integers(0, 256, (18, 30, 3), dtype=np.uint8))
    for argv, views in ((["--tta"], 8), (["--tta-views", "2"], 2)):
        out = tmp_path / f"out{views}"
        assert main(["restore", str(tmp_path / "in.png"), "-o", str(out), "--model", str(model),
                     "--tile", "0", *argv]) == 0
        expected = Restorer(str(model), device="cpu", tta=views)(
            read_image(tmp_path / "in.png").pixels)
        np.testing.assert_array_equal(read_image(out / "in.png").pixels, expected)
