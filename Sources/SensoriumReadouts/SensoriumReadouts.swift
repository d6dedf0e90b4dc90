// The SensoriumReadouts library; see Documentation/Architecture.md.
