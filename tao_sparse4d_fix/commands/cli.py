"""Command line: ``tao-sparse4d-fix doctor|launcher|bundle|inspect|sdk`` (also ``python -m tao_sparse4d_fix``)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tao-sparse4d-fix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check this environment before a training run")
    doctor.add_argument("--spec", help="experiment spec YAML to read background_supervision from")
    doctor.add_argument("overrides", nargs="*", help="Hydra overrides, as passed to sparse4d train")
    from tao_sparse4d_fix.host import bundle, launcher  # neither imports torch, TAO or the launcher
    from tao_sparse4d_fix.host import sdk  # standard library only; does not import NVIDIA's SDK
    from tao_sparse4d_fix.host.inspect import command as inspect  # standard library only

    launcher.add_arguments(commands.add_parser("launcher", help="make `tao model sparse4d` (the TAO launcher) use the fix"))
    bundle.add_arguments(commands.add_parser("bundle", help="build a folder that brings the fix into a stock TAO image"))
    sdk.add_arguments(commands.add_parser("sdk", help="what to pass to create_job of NVIDIA's TAO SDK (nvidia-tao-sdk)"))
    inspect.add_arguments(commands.add_parser("inspect", help="is my model affected? read TAO's results_nusc.json"))
    args = parser.parse_args(argv)
    if args.command == "inspect":
        return inspect.run(args)
    if args.command == "launcher":
        return launcher.run(args)
    if args.command == "bundle":
        return bundle.run(args)
    if args.command == "sdk":
        return sdk.run(args)

    from tao_sparse4d_fix.commands import doctor as doctor_module

    return doctor_module.run(args.spec, args.overrides)


if __name__ == "__main__":
    sys.exit(main())
