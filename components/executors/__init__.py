"""The fast executors behind three of TFX's own steps, a file at a time: CsvExampleGen
(csv_examples), StatisticsGen (bulk_statistics) and Transform (bulk_transform), with
their tf.Example source (bulk_read) and encoder (example_encoding)."""
