"""The model contract, one home for every runtime: what goes into a model (the preprocessing: columns, order,
statistics, vocabularies), the networks, the pyfunc that scores raw columns, the same path as one ONNX graph
(Java library, JVM engine), and the metrics every stage judges scores by."""
