import Sensorium
print("sensorium-bench")
