"""The pyfunc's former home: models registered before the model contract moved to `atelier.model.pyfunc`
were pickled by MLflow with this path for their class, so loading them (the promotion gate loads the
champion in-process, where atelier is already imported) looks the class up here.
"""

from atelier.model.pyfunc import TabularModel

__all__ = ["TabularModel"]
