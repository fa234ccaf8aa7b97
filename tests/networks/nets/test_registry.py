from __future__ import annotations

import pytest

import monai_sre
from monai_sre.networks.nets import SREResNet, create_model, list_models, model_task, register_model


def test_list_models_with_patterns():
    names = list_models()
    assert names == sorted(names)
    for expected in (
        "sre_resnet10",
        "sre_resnet18",
        "sre_resnet34",
        "sre_resnet50",
        "sre_resnet18_paper",
        "sre_resnet_light",
    ):
        assert expected in names
    assert list_models("*paper") == ["sre_resnet18_paper"]
    assert list_models("nothing*") == []
    assert monai_sre.list_models is list_models


def test_create_model_passes_kwargs():
    model = create_model("sre_resnet_light", n_input_channels=2, num_classes=5)
    assert isinstance(model, SREResNet) and model.fc.out_features == 5


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="unknown model 'sre_resnet19'. Did you mean 'sre_resnet18'"):
        create_model("sre_resnet19")


def test_registering_a_name_twice_raises_and_keeps_the_first():
    first = create_model.__globals__["_MODELS"]["sre_resnet18"]

    def sre_resnet18():  # noqa: F811 - the clash is the point
        return None

    with pytest.raises(ValueError, match="model name 'sre_resnet18' is registered already"):
        register_model(sre_resnet18)
    assert create_model.__globals__["_MODELS"]["sre_resnet18"] is first


def test_models_are_listed_by_task():
    classifiers, segmenters = list_models(task="classification"), list_models(task="segmentation")
    assert "group_resnet_light" in classifiers and "sre_unet_light" not in classifiers
    assert set(segmenters) == {"group_unet_light", "plain_unet_light", "sre_unet_light"}
    assert sorted(classifiers + segmenters) == list_models()
    assert model_task("sre_unet_light") == "segmentation" and model_task("sre_resnet18") == "classification"
    with pytest.raises(ValueError, match="detection"):
        list_models(task="detection")
    with pytest.raises(ValueError, match="unknown model 'unet'"):
        model_task("unet")


def test_create_model_refuses_a_model_of_another_task():
    with pytest.raises(ValueError, match="'sre_unet_light' is a segmentation network; a classification network"):
        create_model("sre_unet_light", task="classification")
    assert isinstance(create_model("sre_resnet_light", task="classification"), SREResNet)
