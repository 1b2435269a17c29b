import pytest
import torch

from interpbench.errors import ConfigError, NotApplicableError
from interpbench.models import available_models, build_model, gradcam_layer, model_blocks


def test_zoo_lists_the_issue_models():
    assert {"mlp", "mnist_cnn", "resnet_small", "resnet18", "resnet50", "vgg16", "inception_v3"} <= set(available_models())


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConfigError, match=r"Unknown model 'mnist_cn'.*Did you mean 'mnist_cnn'.*Known models: .*resnet18"):
        build_model("mnist_cn")


def test_unknown_model_option_names_it():
    with pytest.raises(ConfigError, match=r"no option 'hiden'.*hidden"):
        build_model("mlp", hiden=[3])


@pytest.mark.parametrize("name,shape", [("mlp", (2, 1, 28, 28)), ("mnist_cnn", (2, 1, 28, 28)), ("resnet_small", (2, 3, 32, 32))])
def test_small_models_forward(name, shape):
    model = build_model(name, in_channels=shape[1], image_size=shape[-1])
    assert model(torch.rand(shape)).shape == (2, 10)
    assert model_blocks(model)[0][0] in ("fc_out", "fc2", "fc")


def test_mnist_cnn_is_the_papers_architecture():
    m = build_model("mnist_cnn")
    assert (m.conv1.out_channels, m.conv1.kernel_size) == (32, (5, 5))
    assert (m.conv2.out_channels, m.conv2.kernel_size) == (64, (5, 5))
    assert (m.fc1.out_features, m.fc2.out_features) == (1024, 10)


def test_mlp_has_no_gradcam_layer():
    with pytest.raises(NotApplicableError):
        gradcam_layer(build_model("mlp"))


def test_weights_roundtrip_and_mismatch(tmp_path):
    good = tmp_path / "cnn.pt"
    net = build_model("mnist_cnn")
    torch.save(net.state_dict(), good)
    loaded = build_model("mnist_cnn", weights_path=good)
    assert torch.equal(loaded.conv1.weight, net.conv1.weight)
    with pytest.raises(ConfigError, match=r"does not match the architecture.*(missing|unexpected) keys"):
        build_model("mlp", weights_path=good)
    with pytest.raises(ConfigError, match=r"shape mismatches.*fc2.weight"):
        build_model("mnist_cnn", num_classes=5, weights_path=good)


def test_missing_weights_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.pth does not exist"):
        build_model("resnet18", weights_path=tmp_path / "nope.pth")


def test_torchvision_weights_file_loads_into_inner_net(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    model = build_model("resnet18", weights_path=path)
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
