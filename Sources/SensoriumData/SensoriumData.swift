// The SensoriumData library; see Documentation/Architecture.md.
