//! Variable names and shapes of the networks.

use srgan_export::GeneratorConfig;
use srgan_models::generator::check_var_names;
use srgan_models::{Discriminator, DiscriminatorConfig, Generator, MainModule};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

#[test]
fn generator_names_equal_param_specs_without_renames() {
    for cfg in [GeneratorConfig::new(2, 8, 4), GeneratorConfig::new(0, 4, 8)] {
        let vs = nn::VarStore::new(Device::Cpu);
        let _g = Generator::build(&vs.root(), &(&cfg).into()).unwrap();
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        let mut want: Vec<String> = cfg.param_specs().into_iter().map(|s| s.name).collect();
        want.sort();
        assert_eq!(names, want);
        assert!(names.iter().all(|n| !n.contains("__")), "{names:?}");
        check_var_names(&vs, &(&cfg).into()).unwrap();
    }
}

#[test]
fn a_duplicate_name_is_caught() {
    // Building twice under the same root makes tch rename variables `weight__N`.
    let cfg = GeneratorConfig::new(1, 4, 2);
    let vs = nn::VarStore::new(Device::Cpu);
    let _a = Generator::build(&vs.root(), &(&cfg).into()).unwrap();
    // get-or-create would reuse names; `add` renames: force it through a second PReLU.
    let _dup = vs
        .root()
        .sub("head")
        .sub("prelu")
        .var("weight", &[4], nn::Init::Const(0.0));
    let names: Vec<String> = vs.variables().into_keys().collect();
    assert!(names.iter().any(|n| n.contains("__")), "{names:?}");
    let err = check_var_names(&vs, &(&cfg).into())
        .unwrap_err()
        .to_string();
    assert!(err.contains("__"), "{err}");
}

#[test]
fn generator_and_discriminator_shapes() {
    let cfg = GeneratorConfig::new(1, 8, 4);
    let vs = nn::VarStore::new(Device::Cpu);
    let g = Generator::build(&vs.root(), &(&cfg).into()).unwrap();
    let x = Tensor::rand([2, 3, 7, 5], (Kind::Float, Device::Cpu));
    assert_eq!(g.forward_t(&x, false).size(), vec![2, 3, 28, 20]);

    let dvs = nn::VarStore::new(Device::Cpu);
    let d = Discriminator::new(&dvs.root(), &DiscriminatorConfig::default()).unwrap();
    // 96x96: pooling to 6x6 is the identity (the paper's network); other sizes work too.
    for side in [96, 40] {
        let y = Tensor::rand([2, 3, side, side], (Kind::Float, Device::Cpu));
        assert_eq!(d.forward_t(&y, true).size(), vec![2, 1]);
    }
    let names: Vec<String> = dvs.variables().into_keys().collect();
    assert!(names.iter().all(|n| !n.contains("__")), "{names:?}");
    assert!(names.contains(&"features.0.conv.bias".to_string()));
    assert!(!names.iter().any(|n| n.starts_with("features.0.bn")));
    assert!(names.contains(&"features.7.bn.running_var".to_string()));
    // 8 convs: 512 channels at the end, strided 4 times.
    assert_eq!(
        dvs.variables()["features.7.conv.weight"].size(),
        vec![512, 512, 3, 3]
    );
    assert_eq!(
        dvs.variables()["dense1.weight"].size(),
        vec![1024, 512 * 36]
    );
}

#[test]
fn checkpoint_roundtrip_through_varstore() {
    let cfg = GeneratorConfig::new(2, 4, 2);
    let ck = srgan_export::Checkpoint::random_init(&cfg, 5).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let _g = Generator::build(&vs.root(), &(&cfg).into()).unwrap();
    srgan_models::generator::load_checkpoint(&vs, &ck).unwrap();
    let back =
        srgan_models::generator::to_checkpoint(&vs, &(&cfg).into(), ck.extra_metadata.clone())
            .unwrap();
    assert_eq!(back, ck);
}
