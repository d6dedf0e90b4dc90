import Sensorium
print("sensorium: command-line tool")
