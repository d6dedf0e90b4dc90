// The SensoriumMetrics library; see Documentation/Architecture.md.
