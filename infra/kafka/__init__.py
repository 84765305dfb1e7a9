"""The local Apache Kafka broker: jars from Maven Central, one KRaft node under HOME/kafka."""
