"""BatchNorm Lab's engine: real MNIST, the note's network with and without BatchNorm, paired and
instrumented training, sweeps and figures. It never imports streamlit."""
