"""Command line: ``tao-sparse4d-fix doctor`` (also ``python -m tao_sparse4d_fix``)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tao-sparse4d-fix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check this environment before a training run")
    doctor.add_argument("--spec", help="experiment spec YAML to read background_supervision from")
    doctor.add_argument("overrides", nargs="*", help="Hydra overrides, as passed to sparse4d train")
    args = parser.parse_args(argv)

    from tao_sparse4d_fix import doctor as doctor_module

    return doctor_module.run(args.spec, args.overrides)


if __name__ == "__main__":
    sys.exit(main())
