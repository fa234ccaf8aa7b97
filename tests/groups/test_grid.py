from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_sre.groups import (
    GridGroup,
    GridSymmetryElement,
    apply_grid_symmetry,
    apply_group_element,
    grid_group,
    grid_symmetries,
)

GROUPS = {"C4": 4, "D4": 8, "O": 24, "Oh": 48}


@pytest.mark.parametrize("name, order", GROUPS.items())
def test_group_order_identity_first_and_closed(name, order):
    group = grid_group(name)
    assert len(group) == order and group.elements[0].is_identity
    product = group.product
    # a Latin square: every row and column a permutation (closure, cancellation)
    assert all(sorted(row) == list(range(order)) for row in product)
    assert all(sorted(col) == list(range(order)) for col in product.T)
    assert (product[np.arange(order), group.inverse] == 0).all()


@pytest.mark.parametrize("name", GROUPS)
def test_cayley_table_matches_composition_of_actions(name):
    group = grid_group(name)
    x = torch.randn((5,) * group.spatial_dims)
    for a in range(0, len(group), 5):
        for b in range(0, len(group), 3):
            composed = apply_grid_symmetry(apply_grid_symmetry(x, group.elements[b]), group.elements[a])
            assert torch.equal(composed, apply_grid_symmetry(x, group.elements[group.product[a, b]]))


def test_matrix_moves_a_voxel_as_apply_grid_symmetry_does():
    x = torch.zeros(5, 5, 5)
    x[3, 2, 0] = 1  # centred coordinates (1, 0, -2)
    for element in grid_symmetries(3):
        moved = np.argwhere(apply_grid_symmetry(x, element).numpy() == 1)[0] - 2
        assert (moved == element.matrix @ np.array([1, 0, -2])).all(), str(element)
        assert GridSymmetryElement.from_matrix(element.matrix) == element
        assert (element @ element.inverse()).is_identity


def test_rotation_groups_hold_proper_rotations_only():
    assert all(round(np.linalg.det(e.matrix)) == 1 for e in grid_group("O").elements)
    assert sum(round(np.linalg.det(e.matrix)) == -1 for e in grid_group("Oh").elements) == 24


@pytest.mark.parametrize("name", GROUPS)
@pytest.mark.parametrize(
    "space, size3, size2", [("trivial", 1, 1), ("regular", None, None), ("axes", 3, 2), ("diagonals", 4, 2)]
)
def test_action_is_a_homomorphism_onto_permutations(name, space, size3, size2):
    group = grid_group(name)
    table = group.action(space)
    expected = {3: size3, 2: size2}[group.spatial_dims] or len(group)
    assert table.shape == (len(group), expected)
    assert all(sorted(row) == list(range(expected)) for row in table)
    for a in range(len(group)):
        for b in range(len(group)):
            assert (table[group.product[a, b]] == table[a][table[b]]).all()


@pytest.mark.parametrize("name", ["C4", "O", "Oh"])
def test_rotations_space_is_a_homomorphism_that_fixes_the_point_reflection(name):
    group = grid_group(name)
    table = group.action("rotations")
    rotations = [i for i, e in enumerate(group.elements) if e.is_rotation]
    assert table.shape == (len(group), len(rotations))
    for a in range(len(group)):
        for b in range(len(group)):
            assert (table[group.product[a, b]] == table[a][table[b]]).all()
    # on the rotations themselves it is the regular action of the rotation subgroup
    assert (table[rotations] == grid_group("O" if group.spatial_dims == 3 else "C4").product).all()
    if name == "Oh":
        point_reflection = group.index(GridSymmetryElement.from_matrix(-np.eye(3, dtype=np.int64)))
        assert (table[point_reflection] == np.arange(24)).all()


def test_rotations_space_of_d4_raises_naming_the_group():
    with pytest.raises(ValueError, match="D4"):
        grid_group("D4").action("rotations")


def test_features_action_composes_and_inverts():
    group = grid_group("O")
    f = torch.randn(2, 3 * 24, 4, 4, 4)
    for a, b in [(1, 5), (7, 23), (12, 12)]:
        twice = apply_group_element(apply_group_element(f, group, "regular", b), group, "regular", a)
        assert torch.equal(twice, apply_group_element(f, group, "regular", int(group.product[a, b])))
    back = apply_group_element(apply_group_element(f, group, "regular", 9), group, "regular", int(group.inverse[9]))
    assert torch.equal(back, f)


def test_bad_names_and_shapes_raise_naming_the_value():
    with pytest.raises(ValueError, match="Oq"):
        GridGroup("Oq")
    with pytest.raises(ValueError, match="spheres"):
        grid_group("O").action("spheres")
    with pytest.raises(ValueError, match="channels \\* 3"):
        apply_group_element(torch.randn(1, 4, 3, 3, 3), "O", "axes", 0)
    with pytest.raises(ValueError, match="signed permutation"):
        GridSymmetryElement.from_matrix(np.ones((3, 3)))


def test_features_action_on_an_empty_batch():
    """Used to fail: ``cannot reshape tensor of 0 elements``."""
    assert apply_group_element(torch.randn(0, 2 * 24, 3, 3, 3), "O", "regular", 5).shape == (0, 48, 3, 3, 3)


def test_a_shape_changing_permutation_is_refused_unless_the_shape_may_change():
    element = next(e for e in grid_symmetries(3) if e.permutation == (2, 0, 1) and not any(e.flips))
    volume = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"different sizes onto each other: \(3, 4, 5\)"):
        apply_grid_symmetry(volume, element)
    permuted = apply_grid_symmetry(volume, element, keep_shape=False)
    assert permuted.shape == (2, 5, 3, 4)
    assert torch.equal(apply_grid_symmetry(permuted, element.inverse(), keep_shape=False), volume)
