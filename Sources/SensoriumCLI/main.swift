// The `sensorium` command-line tool. The commands live in the `SensoriumCommandLine` library (so that
// a user's executable can register its own components and run them); the work is done by library
// code in the `Sensorium` module so that it can be tested and reused.
import SensoriumCommandLine

SensoriumCommand.main()
