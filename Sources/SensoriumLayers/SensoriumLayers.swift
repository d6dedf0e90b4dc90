// The SensoriumLayers library; see Documentation/Architecture.md.
