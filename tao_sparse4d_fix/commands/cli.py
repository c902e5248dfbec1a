"""Command line: ``tao-sparse4d-fix doctor|launcher|bundle|sdk|ftms|inspect`` (also ``python -m tao_sparse4d_fix``)."""
import argparse
import sys

from tao_sparse4d_fix.errors import INTERNAL_ERROR, CommandError


def main(argv=None):
    # the host commands are standard library only: they import neither torch, TAO, the launcher nor NVIDIA's SDK
    from tao_sparse4d_fix.host import bundle, ftms, launcher, sdk
    from tao_sparse4d_fix.host.inspect import command as inspect_command

    parser = argparse.ArgumentParser(prog="tao-sparse4d-fix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check this environment before a training run")
    doctor.add_argument("--spec", help="experiment spec YAML to read background_supervision from")
    doctor.add_argument("overrides", nargs="*", help="Hydra overrides, as passed to sparse4d train")
    host_commands = {
        "launcher": (launcher, "make `tao model sparse4d` (the TAO launcher) use the fix"),
        "bundle": (bundle, "build a folder that brings the fix into a stock TAO image"),
        "sdk": (sdk, "what to pass to create_job of NVIDIA's TAO SDK (nvidia-tao-sdk)"),
        "ftms": (ftms, "what TAO's fine-tuning microservices (FTMS) set: IMAGE_TAO_PYTORCH, docker_env_vars"),
        "inspect": (inspect_command, "is my model affected? read TAO's results_nusc.json"),
    }
    for name, (module, summary) in host_commands.items():
        module.add_arguments(commands.add_parser(name, help=summary))
    args = parser.parse_args(argv)
    try:
        if args.command in host_commands:
            return host_commands[args.command][0].run(args)

        from tao_sparse4d_fix.commands import doctor as doctor_module  # imports TAO's modules to inspect them

        return doctor_module.run(args.spec, args.overrides)
    except CommandError as error:  # a refusal: its one line, its status
        _one_line(args.command, f"error: {error}")
        return error.status
    except KeyboardInterrupt:
        _one_line(args.command, "interrupted")
        return 130
    except Exception as error:  # a bug, never a verdict: one line, its own status
        _one_line(args.command, f"internal error ({type(error).__name__}: {error}); please report it")
        return INTERNAL_ERROR


def _one_line(command, message):
    print(f"tao-sparse4d-fix {command}: " + " ".join(str(message).split()), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
