"""Read digits and numbers in pictures: `mnist-predict [MODEL] IMAGE... [--json | --jsonl]`.

MODEL is a checkpoint file or a model name (its checkpoints/<name>/best.pt in the DVC project
containing the current directory); without it, that project's model with the best cross-validated
accuracy among those whose cross-validation is current, else model_3 (the accuracy model). Each
IMAGE is a picture (PNG, JPEG, ...) of a digit or of a number written left to right, of any size,
on any paper (mnist_pipeline/predict/framing.py), or an IDX file of 28x28 images, `.gz` or not.
Options may stand anywhere among the files. A file that cannot be read gets one error line and
the others their answers; the exit code is 1 when any failed.
"""

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import DEVICES
from mnist_pipeline.core.program import program
from mnist_pipeline.predict.calibration import calibration_path, read_temperature
from mnist_pipeline.predict.inputs import read_inputs, save_inputs
from mnist_pipeline.predict.project import (default_model, is_checkpoint_file, is_model, project_root, require_project,
                                            require_trained, resolve_checkpoint)
from mnist_pipeline.predict.reader import Reader

BATCH = 256  # pictures read and predicted together before their answers are printed


def as_text(answer: dict) -> str:
    if "error" in answer:
        return f"error: {answer['error']}"
    if "number" in answer:
        digits = ", ".join(f"{d['digit']} {d['probability']:.1%}" for d in answer["digits"])
        return f"{answer['input']}: {answer['number']} ({digits})"
    return f"{answer['input']}: {answer['digit']} ({answer['probability']:.1%})"


def choose_model(inputs: list[str]) -> tuple[Path, float, str, list[Path]]:
    """(checkpoint file, temperature, the line that says which and why, the pictures)."""
    root = project_root()
    if is_model(inputs[0]):
        model, images, why = inputs[0], inputs[1:], "named"
    else:
        model, why = default_model(require_project(root, "choosing a model"))
        images = inputs
    checkpoint = resolve_checkpoint(model, root)
    temperature, calibration = 1.0, "probabilities uncalibrated (a checkpoint file named directly)"
    if not is_checkpoint_file(model):
        require_trained(model, root, checkpoint)
        found = read_temperature(root / calibration_path(model))
        if found is None:
            calibration = f"probabilities uncalibrated (no {calibration_path(model)}; `dvc repro` writes it)"
        else:
            temperature, calibration = found, f"probabilities calibrated (temperature {found:.3g})"
    chosen = f"{model}, {why}" if why != "named" else "named"
    if why != "named":
        chosen += "; name a model first to choose another"
    return checkpoint, temperature, f"using {checkpoint} ({chosen}); {calibration}", [Path(p) for p in images]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                        help="optionally a checkpoint file or model name, then PNG/JPEG pictures or IDX image files")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON list at the end")
    output.add_argument("--jsonl", action="store_true", help="print one JSON object per line, as each is read")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="default: cpu")
    parser.add_argument("--save-inputs", metavar="DIR", type=Path,
                        help="write each digit as the model sees it (28x28 PNG) into DIR")
    args = parser.parse_intermixed_args(argv)
    if args.save_inputs and args.save_inputs.exists() and not args.save_inputs.is_dir():
        raise PipelineError(f"{args.save_inputs}: --save-inputs takes a folder (made if missing), and this is a file")
    checkpoint, temperature, using, images = choose_model(args.inputs)
    if not images:
        raise PipelineError(f"no pictures given after the model {args.inputs[0]}")
    reader = Reader.load(checkpoint, args.device, temperature)
    print(using, file=sys.stderr, flush=True)

    collected, failures = [], 0
    for start in range(0, len(images), BATCH):
        read = []  # (path, its pictures, its error), in the order given
        for path in images[start : start + BATCH]:
            try:
                read.append((path, read_inputs(path), None))
            except PipelineError as exc:
                read.append((path, [], str(exc)))
        pictures = [picture for _, found, _ in read for picture in found]
        answered = iter(reader.answers(pictures) if pictures else [])
        for path, found, error in read:
            for answer, seen in [({"input": str(path), "error": error}, [])] if error else [next(answered) for _ in found]:
                failures += "error" in answer
                emit(answer, args, collected)
                if args.save_inputs and seen:
                    save_inputs(answer["input"], seen, args.save_inputs)
    if args.json:
        print(json.dumps(collected, indent=2))
    if failures:
        raise PipelineError(f"{failures} of {len(images)} files could not be read (each is named above)")


def emit(answer: dict, args: argparse.Namespace, collected: list) -> None:
    """An error goes to stderr as one line at once; an answer to stdout as text, a JSON line, or
    into the JSON list printed at the end."""
    if "error" in answer:
        print(as_text(answer), file=sys.stderr, flush=True)
    if args.jsonl:
        print(json.dumps(answer), flush=True)
    elif args.json:
        collected.append(answer)
    elif "error" not in answer:
        print(as_text(answer), flush=True)
