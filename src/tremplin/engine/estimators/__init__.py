"""Impact estimators: DiD, TWFE (+ Goodman-Bacon), Callaway–Sant'Anna, event study, synth, ITS."""
