from mnist_pipeline.predict import cli

cli()
