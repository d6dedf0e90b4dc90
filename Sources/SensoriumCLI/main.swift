// The `sensorium` command-line tool. Argument parsing lives here; the work is done by library
// code in the `Sensorium` module so that it can be tested and reused.
SensoriumCommand.main()
