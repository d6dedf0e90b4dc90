import Sensorium
print("TrainFactorizedBaseline: not yet available")
