"""`tk export --format pt2`: a run's model as a torch.export program, registered from outside taskkit."""

from taskkit import hookimpl
from taskkit.export.formats import ExportFormat, write_file


class ExportedProgram(ExportFormat):
    """torch.export's ExportedProgram (.pt2): a graph without Python, loaded with torch.export.load."""

    suffix = ".pt2"

    def write(self, model, sample, target, axes):
        import torch

        dims = tuple({axis: torch.export.Dim.AUTO for axis in (axes or {}).get(name, {})} or None
                     for name in sample)
        shapes = (dims,) if axes else None  # the model's forward takes its inputs as *inputs
        write_file(target, "pt2", lambda tmp: torch.export.save(
            torch.export.export(model, tuple(sample.values()), dynamic_shapes=shapes), str(tmp)), instead="onnx")

    def run(self, target, inputs):
        import torch

        return torch.export.load(str(target)).module()(*inputs.values())


@hookimpl
def tk_register_export_formats(formats):
    formats.register("pt2")(ExportedProgram)
